"""Deep Learning Concepts: reference implementations, data and plotting: what notebooks import.

One module per idea: ``activations``, ``gradcheck``, ``checks``, ``plotting``, ``claims``;
the grading tools and the ``dl-course`` command line live in the
separate top-level package ``dl_course``. The notebooks' shared toolbox:

- ``data``: every data set the course uses, offline and seeded (digits, toys, shapes, sequences);
- ``training``: ``make_mlp``, ``fit`` (torch.optim, early stopping, checkpoints), ``evaluate``;
- ``timing``: ``best_of``, the one timer of every timing experiment.
"""

__version__ = "0.1.0"
