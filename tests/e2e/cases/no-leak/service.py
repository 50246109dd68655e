# Allocates about 10 KiB per request and frees it before returning.
def handle(req):
    junk = [b"y" * 1024 for _ in range(10)]
    d = {str(i): i for i in range(50)}
    return len(junk) + len(d)
