"""Deep Learning Concepts: reference implementations, data, plotting and grading tools.

One module per idea: ``activations``, ``gradcheck``, ``checks``, ``plotting``, ``claims``;
the course command line lives in ``dl_helpers.course``.
"""

__version__ = "0.1.0"
