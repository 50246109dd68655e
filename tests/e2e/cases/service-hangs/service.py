import time

count = 0


def handle(req):
    global count
    count += 1
    if count == 50:
        while True:
            time.sleep(0.05)
