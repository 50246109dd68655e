# Stand-in for pkgx as a package folder: submodules come from this folder.
STANDIN = "pkgx"
VERSION = "standin"
