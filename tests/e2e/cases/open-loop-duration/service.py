def handle(req):
    return sum(range(100))
