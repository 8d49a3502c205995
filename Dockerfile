# The grader image: the course checkout with its pinned environment, bubblewrap and
# util-linux (prlimit, setpriv), as `make setup` gives a Debian machine. Build it from the
# repository root:   docker build -t dl-course-grader .
# and run any dl-course command:   docker run --privileged dl-course-grader autograde ...
# (deploy/kubernetes/autograde-job.yaml says why the sandbox needs a privileged container).
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap util-linux \
 && rm -rf /var/lib/apt/lists/*

# torch (pinned in pyproject.toml) as the CPU wheel (the default index has only the multi-GB CUDA build).
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    MPLBACKEND=Agg \
    TQDM_DISABLE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN python -m venv /opt/venv

WORKDIR /opt/dl-course
# The pins, read from pyproject.toml (their one source), in a layer of their own: editing
# the course does not reinstall torch.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/pins.txt \
 && pip install -r /tmp/pins.txt \
 && rm /tmp/pins.txt

# The checkout (see .dockerignore), installed in place as `make setup` does: the grader reads
# the assignments from solutions/ and the sandbox binds this one copy of the package.
COPY . .
RUN pip install --no-deps -e . \
 && dl-course --help > /dev/null

ENTRYPOINT ["dl-course"]
CMD ["--help"]
