"""`python -m livepose` is the `livepose` command."""

import sys

from livepose.cli import main

sys.exit(main())
