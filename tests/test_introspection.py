"""grader.introspection: what the grader's own reading of a submission's source counts as reaching into the
interpreter, and what it leaves alone (code an honest solution writes)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.introspection import find_introspection

REACHING = {
    "frame": ("import sys\nf = sys._getframe()\n", "line 2: `sys._getframe`"),
    "frame_from_sys": ("from sys import _getframe\n", "line 1: `from sys import _getframe`"),
    "walk_up": ("def f(frame):\n    return frame.f_back.f_globals\n", "line 2: `frame.f_back`"),
    "traceback_frame": ("import sys\ntry:\n    1 / 0\nexcept Exception:\n    t = sys.exc_info()[2].tb_frame\n",
                        "line 5: `....tb_frame`"),
    "module_registry": ("import sys\nprobes = sys.modules['grader.worker.probes']\n", "line 2: `sys.modules`"),
    "registry_imported": ("from sys import modules\n", "line 1: `from sys import modules`"),
    "gc": ("import gc\n", "line 1: `import gc`"),
    "ctypes_from": ("from ctypes import pythonapi\n", "line 1: `from ctypes import ...`"),
    "inspect_submodule": ("import importlib.util\n", "line 1: `import importlib.util`"),
    "callback_globals": ("def numerical_gradient(f, x):\n    g = f.__globals__\n", "line 2: `f.__globals__`"),
    "closure": ("def g(f):\n    return f.__closure__[0].cell_contents\n", "line 2: `f.__closure__`"),
    "subclasses": ("x = object.__subclasses__()\n", "line 1: `object.__subclasses__`"),
    "exec": ("exec('import gc')\n", "line 1: `exec`"),
    "eval": ("y = eval('1 + 1')\n", "line 1: `eval`"),
    "dunder_import": ("m = __import__('sys')\n", "line 1: `__import__`"),
    "builtins_dict": ("e = __builtins__['exec']\n", "line 1: `__builtins__`"),
    "builtins_module": ("import builtins\nbuiltins.eval('1')\n", "line 2: `builtins.eval`"),
    "globals_call": ("g = globals()\n", "line 1: `globals`"),
    "vars_call": ("import numpy as np\nv = vars(np)\n", "line 2: `vars`"),
    "name_as_string": ("import sys\nf = getattr(sys, '_getframe')()\n", "line 2: `'_getframe'`"),
    "tracer": ("import threading\nthreading.settrace(None)\n", "line 2: `threading.settrace`"),
    "earliest_of_two": ("import numpy as np\nimport gc\nimport inspect\n", "line 2: `import gc`"),
}

HONEST = {
    "numpy_code": """
        import numpy as np
        def forward(X, params):
            z1 = X @ params["W1"] + params["b1"]
            return np.maximum(z1, 0) @ params["W2"] + params["b2"], (X, z1)
    """,
    "python2_compat_imports": "from builtins import range\nfrom past.builtins import xrange\nimport sys\n",
    "sys_and_traceback": "import sys, traceback\nsys.path.insert(0, '.')\ntraceback.print_exc()\nprint(sys.version)\n",
    "getattr_literal": "import numpy as np\nf64 = getattr(np, 'float64')\n",
    "locals_and_names": "def f(a):\n    print('{a}'.format(**locals()))\n    return f.__name__, __doc__, __file__\n",
    "own_variable_named_vars": "vars = [1, 2]\nprint(vars[0])\ndef g(eval):\n    return eval\n",
    "re_compile": "import re\npattern = re.compile('a+')\n",
    "types_and_time": "import types, time, os\nns = types.SimpleNamespace(t=time.perf_counter(), p=os.getpid())\n",
}


def write(tmp_path: Path, code: str, name: str = "backprop.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


@pytest.mark.parametrize("name", REACHING)
def test_reaching_constructs_are_found_with_file_and_line(tmp_path, name):
    code, where = REACHING[name]
    assert find_introspection([write(tmp_path, code)]) == f"backprop.py {where}"


@pytest.mark.parametrize("name", HONEST)
def test_honest_code_is_left_alone(tmp_path, name):
    assert find_introspection([write(tmp_path, HONEST[name])]) is None


def test_helper_modules_are_read_and_named_by_their_path_in_the_folder(tmp_path):
    (tmp_path / "pkg").mkdir()
    files = [write(tmp_path, HONEST["numpy_code"]), write(tmp_path, "import gc\n", "pkg/helpers.py"),
             write(tmp_path, "", "notes.txt")]
    assert find_introspection(files, tmp_path) == "pkg/helpers.py line 1: `import gc`"


def test_files_that_do_not_parse_are_left_to_the_import(tmp_path):
    files = [write(tmp_path, "print 'python 2'\nimport gc\n"), write(tmp_path, "\xff\xfe\x00", "b.py")]
    assert find_introspection(files) is None
