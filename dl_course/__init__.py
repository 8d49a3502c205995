"""The grading tools and the ``dl-course`` command line (instructors, CI; students only run
``dl-course validate``). Notebooks import ``dl_helpers``, never this package; a submission's
kernel cannot even see it (``sandbox``).

Words: the *repository* holds ``solutions/`` and ``notebooks/`` (``layout``); a *course
folder* is an nbgrader course directory the grader works in (``./course`` by default, with
the gradebook, ``autograded/``, ``feedback/``, ``logs/``; the assignment *template* is a
private one per assignment).

The path a submission takes through ``dl-course autograde`` (parent process unless noted)::

    intake        collect: a folder, a zip, an LMS export -> Submission (id, notebook, flags)
      |
    shard         owns: with --shard K/N, only this grader's share (a hash of the student id)
      |
    policy        skip_reason: content already graded, or older than the graded one
      |
    autograde     Grader: the run's plan (probes, secret seed, expected values, template;
                  the last three cached in the course folder: ``cache``)
      |
      +-> worker  (``processes``: own process per submission, started a turn ahead,
      |     |      killed at the time limit; ``jobs.Job`` in, ``jobs.WorkerResult`` out)
      |     |       before its turn: the template copied, both kernels started (``warmup``:
      |     |       the grading kernel imports the setup's modules; trusted code only), and
      |     |       nbgrader Autograde in that private copy of the template reads and
      |     |       sanitizes the submission (no student code runs)
      |     |       in its turn: ``preprocessors``' GuardedExecute takes the kernel (in the
      |     |       ``sandbox``) and runs the cells, ``integrity`` probes
      |     |       (``kernel_code.tamper_probe``) around them
      |     +-- verify: a second sandboxed kernel without the reference packages runs the
      |             answers and ``kernel_code.values_probe`` on secret inputs; the values are
      |             compared outside the kernel
      |
    policy        status_of: points kept only where verified; failed / flagged / graded
      |
    gradebook     record: scores and status (only the parent writes); ``archive``: its files
      |
    feedback      one HTML per student (hidden tests stripped); ``grades``: table, CSV, JSON

Modules:

- ``cli``          -- ``dl-course``: dispatches to the command modules; shared options
- ``layout``       -- where things live in the repository; ``CourseError``
- ``notebooks``    -- nbgrader cell metadata: answer cells, test cells, hidden-test markers
- ``nbgrader_api`` -- nbgrader's configuration for this layout, its API, its failures
- ``preprocessors``-- this course's nbgrader preprocessors (grading and feedback)
- ``release``      -- ``release`` and ``check-release`` (solutions/ -> notebooks/)
- ``validate``     -- ``validate``: what a student runs before submitting
- ``progress``     -- ``progress``: every notebook of the course validated, with a total
- ``selfcheck``    -- *check my work* from inside a notebook (validate's report as a table)
- ``labsetup``     -- JupyterLab settings applied by ``make``
- ``intake``       -- reading a class's submissions (folder, zip, LMS zip)
- ``shard``        -- ``--shard K/N``: one grader's share of the class (graders on many machines)
- ``autograde``    -- ``autograde``: the run (Grader: expected values, jobs, recording each
                      result) and the command line
- ``cache``        -- the course folder's ``.cache``: keys, entries put in place whole
- ``template``     -- the assignment template every worker copies (cached by source key)
- ``expected``     -- the solution's expected values and their secret seed, cached per course
- ``archive``      -- a recorded submission's files: ``submitted/`` and ``autograded/``
- ``policy``       -- which submissions are graded, and the status each result gets
- ``forkserver``   -- the server workers fork from, started before anything else
- ``processes``    -- worker processes: started from a forkserver a turn ahead, killed at
                      the time limit
- ``warmup``       -- the grading kernel started ahead of need, its setup modules imported,
                      handed over in the submission's turn
- ``jobs``         -- the typed hand-offs: Job, the probe plans, ExecutionReport, WorkerResult
- ``worker``       -- grading one submission in its own process
- ``phases``       -- seconds per grading phase (logs, ``bench/bench_grading.py``)
- ``sandbox``      -- the bubblewrap-sandboxed, resource-limited kernel
- ``fonts``        -- matplotlib's font list, built once per course in a kernel's sandbox
- ``integrity``    -- static scan and run-time probes against tampering (flags for review)
- ``verify``       -- the grader's own check of each test cell's values, outside the kernel
- ``kernel_code``  -- the code sent into kernels (probes), as real modules
- ``gradebook``    -- the main gradebook and grading statuses (written by the parent only; one
                      transaction per result, so graders on many machines share a PostgreSQL one)
- ``feedback``     -- ``feedback``: one HTML file per student, hidden tests stripped
- ``grades``       -- ``grades``: the grade table as text, CSV or JSON; per student with totals;
                      the Canvas and Moodle import files
"""
