"""Console adapter: the terminal adapter and the scripted demo."""
