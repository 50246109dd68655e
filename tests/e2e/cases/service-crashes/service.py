import os

count = 0


def handle(req):
    global count
    count += 1
    if count == 3000:
        os.abort()
