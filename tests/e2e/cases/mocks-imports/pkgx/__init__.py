raise ImportError("the real pkgx was imported: the stand-in was not substituted")
