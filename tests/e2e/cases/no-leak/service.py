# Allocates about 10 KiB per request and frees it before returning.
def handle(req):
    sum(range(400))  # a little work, so the run spans enough samples
    junk = [b"y" * 1024 for _ in range(10)]
    d = {str(i): i for i in range(50)}
    return len(junk) + len(d)
