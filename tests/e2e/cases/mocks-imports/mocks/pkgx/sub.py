z = "standin-z"
