def handle(req):
    if req["route"] == "/bad":
        raise ValueError("bad request %d" % req["body"]["i"])
    return 200
