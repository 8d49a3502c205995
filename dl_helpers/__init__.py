"""Deep Learning Concepts: reference implementations, data and plotting: what notebooks import.

One module per idea. The reference implementations of the exercises (each notebook imports
its own as ``ref``), tested against PyTorch, finite differences and scikit-learn:

- ``networks`` (00): a neuron, dense layers, an MLP forward/backward, parameter counts;
- ``activations`` (01): sigmoid, tanh, ReLU family, softmax, ELU/GELU/SiLU and derivatives;
- ``losses`` (02): MSE, MAE, Huber, cross-entropy from logits and their gradients;
- ``optimizers`` (03): SGD, momentum, RMSprop, Adam, AdamW (NumPy steps and torch.optim);
- ``regularization`` (04): L2, inverted dropout, batch norm, ``EarlyStopping``;
- ``batching`` (05): mini-batch indices, update counts, gradient noise.

The notebooks' shared toolbox:

- ``data``: every data set the course uses, offline and seeded (digits, toys, shapes, sequences);
- ``training``: ``make_mlp``, ``fit`` (torch.optim, early stopping, checkpoints), ``evaluate``;
- ``timing``: ``best_of``, the one timer of every timing experiment;
- ``plotting``: the one plotting style; ``claims``: ``claims.check`` for the source's claims;
- ``yours``: run an experiment with the student's function, or the reference with a note;
- ``checks``, ``gradcheck``: what test cells assert with; ``selfcheck``: the "check my work"
  cell.

The grading tools and the ``dl-course`` command line live in the separate top-level package
``dl_course``.
"""

__version__ = "0.1.0"
