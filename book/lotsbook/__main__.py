"""``python -m lotsbook``: execute the chapters and build the book (:func:`lotsbook.build.main`)."""
import sys

from .build import main

sys.exit(main())
