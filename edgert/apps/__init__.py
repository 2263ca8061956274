"""Applications on top of edgert.tasks: the OpenCV camera demo (`edgert demo`) and its frame sources and
drawing, which the Kivy app in apps/kivy_app reuses."""
