# A mock of a submodule of a mocked module: the longest mocked name wins.
STANDIN = "tfx.contrib"
