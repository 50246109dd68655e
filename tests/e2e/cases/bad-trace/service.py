def handle(req):
    pass
