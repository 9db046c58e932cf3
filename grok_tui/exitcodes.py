"""The exit codes of `run` and `batch` (the command line's help states them): one place, imported by the
command line (which must stay light for `--help`) and by the headless run."""

EXIT_SUCCESS, EXIT_FAILURE, EXIT_CANCELLED, EXIT_CANNOT_START = 0, 1, 2, 3
