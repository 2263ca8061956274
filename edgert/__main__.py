import sys

from edgert.cli import main

sys.exit(main())
