raise ZeroDivisionError("cannot load configuration")
