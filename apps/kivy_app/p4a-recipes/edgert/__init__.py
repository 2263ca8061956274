"""python-for-android recipe for edgert, built from this checkout (not from PyPI).

edgert is a meson-python project with Cython modules and C kernels, so it is built like p4a's numpy:
MesonRecipe cross-compiles with the NDK's clang through a meson cross file that p4a writes, and
edgert's meson.build picks the kernel variants from host_machine.cpu_family() (aarch64 -> the NEON
and NEON-dotprod kernels beside the scalar reference). Not verified here: no Android SDK/NDK on the
machine this was written on (see docs/android.md).
"""
from os.path import dirname, join, realpath

from pythonforandroid.recipe import IncludedFilesBehaviour, MesonRecipe


class EdgertRecipe(IncludedFilesBehaviour, MesonRecipe):
    name = "edgert"
    version = "0.1.0"
    url = None
    # the repository root, three levels above apps/kivy_app/p4a-recipes/edgert
    src_filename = realpath(join(dirname(__file__), "..", "..", "..", ".."))
    depends = ["numpy"]
    site_packages_name = "edgert"
    hostpython_prerequisites = ["Cython>=3.0", "meson-python>=0.15", "meson>=1.4", "ninja"]
    need_stl_shared = False
    min_ndk_api_support = 24          # as numpy's recipe


recipe = EdgertRecipe()
