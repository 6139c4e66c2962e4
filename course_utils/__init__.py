"""Reference implementations for the course on understanding and visualizing ConvNets."""
