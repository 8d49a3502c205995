"""The course command line, ``dl-course``, and the tools behind it.

Modules (one job each):

- ``cli``       -- the argparse entry point that dispatches to the command modules
- ``layout``    -- where things live (solutions/, notebooks/), nbgrader configuration
- ``notebooks`` -- reading nbgrader cell metadata: exercises, answer cells, test cells
- ``release``   -- ``release`` and ``check-release`` (solutions/ -> notebooks/)
- ``validate``  -- ``validate``: what a student runs before submitting
- ``labsetup``  -- JupyterLab settings applied by ``make``
- ``intake``    -- reading a class's submissions (folder, zip, LMS zip)
- ``sandbox``   -- the bubblewrap-sandboxed, resource-limited kernel
- ``integrity`` -- static scan and run-time probes against tampering (flags for review)
- ``verify``    -- the grader's own check of each test cell's values, outside the kernel
- ``worker``    -- grading one submission in its own process
- ``gradebook`` -- the main gradebook and grading statuses (written by the parent only)
- ``autograde`` -- ``autograde``: a whole class, in parallel
- ``feedback``  -- ``feedback``: one HTML file per student, hidden tests stripped
- ``grades``    -- ``grades``: the grade table as text, CSV or JSON
"""
