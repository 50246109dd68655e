# Imports the mocked modules in every form a service uses; next to this file
# sit a real tfx.py and pkgx/ that fail, so only the stand-ins can succeed.
import importlib.util

import tfx
from tfx import predict
import tfx.layers
from tfx.layers import dense
import tfx.contrib
import pkgx
from pkgx import VERSION
import pkgx.sub
from pkgx.sub import z

assert tfx.STANDIN == "tfx" and predict(1) == "standin-predict"
assert tfx.layers.dense() == "standin-dense" and dense() == "standin-dense"
assert tfx.contrib.STANDIN == "tfx.contrib"
assert pkgx.STANDIN == "pkgx" and VERSION == "standin"
assert pkgx.sub.z == "standin-z" and z == "standin-z"
try:
    import tfx.missing  # noqa: F401
except ModuleNotFoundError as exc:
    MISSING = exc.name
assert MISSING == "tfx.missing", MISSING


def handle(req):
    return predict(req)
