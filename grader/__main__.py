"""`python -m grader ...` runs the CLI."""
import sys

from grader.cli import main

sys.exit(main())
