"""The ``theano`` that ``CROTON_AS_THEANO=1`` puts on ``sys.path``: it turns into croton.

This directory is on ``sys.path`` only when the opt-in is on (see ``croton.theano_alias``); if it
is found anyway with the opt-in off, it refuses to load rather than pose as Theano.
"""

import os as _os
import sys as _sys

if _os.environ.get("CROTON_AS_THEANO", "").strip().lower() in ("", "0", "false", "no", "off"):
    raise ImportError("this `theano` is croton's alias and loads only with CROTON_AS_THEANO=1 "
                      f"(found through {_os.path.dirname(_os.path.dirname(__file__))} on sys.path)")

from croton import theano_alias as _alias  # noqa: E402

_alias.install()  # sys.modules["theano"] is now the croton module
_sys.modules[__name__] = _sys.modules["croton"]
