"""The course command line, ``dl-course``, and the tools behind it.

Modules (one job each):

- ``layout``   -- where things live (solutions/, notebooks/, nbgrader configuration)
- ``notebooks``-- reading nbgrader cell metadata: exercises, answer cells, test cells
- ``release``  -- ``release`` and ``check-release`` (solutions/ -> notebooks/)
- ``validate`` -- ``validate``: what a student runs before submitting
- ``labsetup`` -- JupyterLab settings applied by ``make lab``
- ``cli``      -- the argparse entry point that dispatches to the commands above
"""
