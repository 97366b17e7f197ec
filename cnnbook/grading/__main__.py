"""`python -m cnnbook.grading SUBMISSIONS --chapter 01 --out OUT`: same as `cnnbook grade`."""

import argparse
import sys

from cnnbook.cli import add_grade_arguments, run_grade

parser = argparse.ArgumentParser(prog="python -m cnnbook.grading", description=__doc__)
add_grade_arguments(parser)
sys.exit(run_grade(parser.parse_args()))
