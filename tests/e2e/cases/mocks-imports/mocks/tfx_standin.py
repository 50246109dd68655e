# Stand-in for tfx as a single file: its submodule "layers" is an attribute
# that is a module, which `import tfx.layers` must find.
import types

STANDIN = "tfx"


def predict(x):
    return "standin-predict"


layers = types.ModuleType("tfx.layers")
layers.dense = lambda: "standin-dense"
