# logging.getLogger(unique name) per request: the logging module keeps every
# logger it ever made, in logging.Logger.manager.loggerDict.
import itertools

_seq = itertools.count()  # a number unique to each request
import logging


def handle(req):
    log = logging.getLogger("request.%d" % next(_seq))
    log.setLevel(logging.WARNING)
