"""Offline tools built on edgert: model quantization, image preprocessing shared by tools and demos."""
