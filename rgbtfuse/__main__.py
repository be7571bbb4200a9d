import sys

from rgbtfuse.cli import main

sys.exit(main())
