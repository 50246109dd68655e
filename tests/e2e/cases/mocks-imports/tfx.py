raise ImportError("the real tfx was imported: the stand-in was not substituted")
