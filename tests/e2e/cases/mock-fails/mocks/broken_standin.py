SESSION = {}["graph"]
