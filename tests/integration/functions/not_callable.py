handler = 42
