"""Quart routes and sockets only: handlers parse input, call workflows or storage, return."""
