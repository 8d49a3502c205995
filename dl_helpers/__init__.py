"""Deep Learning Concepts: reference implementations, data, plotting and grading tools.

One module per idea: ``activations``, ``gradcheck``, ``checks``, ``plotting``, ``claims``;
the course command line lives in ``dl_helpers.course``. The notebooks' shared toolbox:

- ``data``: every data set the course uses, offline and seeded (digits, toys, shapes, sequences);
- ``training``: ``make_mlp``, ``fit`` (torch.optim, early stopping, checkpoints), ``evaluate``;
- ``timing``: ``best_of``, the one timer of every timing experiment.
"""

__version__ = "0.1.0"
