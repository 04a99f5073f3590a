import sys

from floss_ref.cli.main import main

sys.exit(main())
