"""grader.introspection: what the grader's own reading of a submission's source counts as reaching into the
interpreter, what it leaves alone (code an honest solution writes), and which files of a submission it reads."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from grader.introspection import find_introspection
from grader.sources import locate

FC_NET = Path(__file__).resolve().parent / "submissions" / "cs231n" / "fc_net"

REACHING = {
    "frame": ("import sys\nf = sys._getframe()\n", "line 2: `sys._getframe`"),
    "frame_function_kept": ("import sys\nx = sys._getframe\n", "line 2: `sys._getframe`"),
    "frame_from_sys": ("from sys import _getframe\n", "line 1: `from sys import _getframe`"),
    "walk_up": ("def f(frame):\n    return frame.f_back.f_globals\n", "line 2: `frame.f_back`"),
    "traceback_frame": ("import sys\ntry:\n    1 / 0\nexcept Exception:\n    t = sys.exc_info()[2].tb_frame\n",
                        "line 5: `....tb_frame`"),
    "module_registry": ("import sys\nprobes = sys.modules['grader.worker.probes']\n", "line 2: `sys.modules`"),
    "registry_imported": ("from sys import modules\n", "line 1: `from sys import modules`"),
    "registry_by_getattr": ("import sys\nm = getattr(sys, 'modules')\n", "line 2: `getattr(sys, 'modules')`"),
    "sys_under_another_name": ("import sys as s\nm = s.modules\n", "line 2: `s.modules`"),
    "gc": ("import gc\n", "line 1: `import gc`"),
    "ctypes_from": ("from ctypes import pythonapi\n", "line 1: `from ctypes import ...`"),
    "inspect_submodule": ("import importlib.util\n", "line 1: `import importlib.util`"),
    "runpy": ("import runpy\n", "line 1: `import runpy`"),
    "pkgutil": ("from pkgutil import resolve_name\n", "line 1: `from pkgutil import ...`"),
    "module_held_by_numpy": ("import numpy as np\nf = np._core.overrides.inspect.currentframe()\n",
                             "line 2: `np._core.overrides.inspect`"),
    "builtins_held_by_numpy": ("import numpy as np\nnp._core.numeric.builtins.exec('1')\n",
                               "line 2: `np._core.numeric.builtins`"),
    "module_imported_from_numpy": ("from numpy._core.overrides import inspect\n",
                                   "line 1: `from numpy._core.overrides import inspect`"),
    "callback_globals": ("def numerical_gradient(f, x):\n    g = f.__globals__\n", "line 2: `f.__globals__`"),
    "method_owner": ("def numerical_gradient(f, x):\n    owner = f.__self__\n", "line 2: `f.__self__`"),
    "closure": ("def g(f):\n    return f.__closure__[0].cell_contents\n", "line 2: `f.__closure__`"),
    "subclasses": ("x = object.__subclasses__()\n", "line 1: `object.__subclasses__`"),
    "exec": ("exec('import gc')\n", "line 1: `exec`"),
    "eval": ("y = eval('1 + 1')\n", "line 1: `eval`"),
    "dunder_import": ("m = __import__('sys')\n", "line 1: `__import__`"),
    "builtins_dict": ("e = __builtins__['exec']\n", "line 1: `__builtins__`"),
    "builtins_module": ("import builtins\nbuiltins.eval('1')\n", "line 2: `builtins.eval`"),
    "globals_call": ("g = globals()\n", "line 1: `globals`"),
    "vars_call": ("import numpy as np\nv = vars(np)\n", "line 2: `vars`"),
    "tracer": ("import threading\nthreading.settrace(None)\n", "line 2: `threading.settrace`"),
    "earliest_of_two": ("import numpy as np\nimport gc\nimport inspect\n", "line 2: `import gc`"),
    # Distinctive names count as strings wherever they are ...
    "name_as_string": ("import sys\nf = getattr(sys, '_getframe')()\n", "line 2: `'_getframe'`"),
    "distinctive_string_as_data": ("names = ('f_back',)\n", "line 1: `'f_back'`"),
    "distinctive_string_compared": ("def f(attr):\n    return attr == '__globals__'\n", "line 2: `'__globals__'`"),
    "module_name_as_data": ("LIBRARY = 'ctypes'\n", "line 1: `'ctypes'`"),
    # ... ordinary words only where a string is turned into a name lookup: the attribute name of getattr and its kind
    # (any owner), an import by name, the key of a namespace (or of what is reached from one).
    "builtin_by_getattr": ("import builtins\nf = getattr(builtins, 'eval')\n", "line 2: `getattr(builtins, 'eval')`"),
    "monitoring_by_getattr": ("import sys\nm = getattr(sys, 'monitoring')\n", "line 2: `getattr(sys, 'monitoring')`"),
    "hasattr_of_any_object": ("def f(obj):\n    return hasattr(obj, 'exec')\n", "line 2: `'exec'`"),
    "setattr_name": ("setattr(owner, 'compile', None)\n", "line 1: `'compile'`"),
    "delattr_name": ("delattr(owner, 'breakpoint')\n", "line 1: `'breakpoint'`"),
    "getattr_name_keyword": ("f = getattr(owner, name='eval')\n", "line 1: `'eval'`"),
    "getattr_name_conditional": ("f = getattr(owner, 'exec' if fast else 'eval')\n", "line 1: `'exec'`"),
    "getattribute": ("f = object.__getattribute__(owner, 'eval')\n", "line 1: `'eval'`"),
    "attrgetter": ("from operator import attrgetter\nf = attrgetter('eval')(owner)\n", "line 2: `'eval'`"),
    "methodcaller": ("import operator\nf = operator.methodcaller('exec', 'x = 1')\n", "line 2: `'exec'`"),
    "module_name_as_argument": ("m = import_module('gc')\n", "line 1: `'gc'`"),
    "module_name_as_keyword": ("m = import_module(name='inspect')\n", "line 1: `'inspect'`"),
    "locals_subscript": ("f = locals()['eval']\n", "line 1: `'eval'`"),
    "dict_of_any_object": ("def f(m):\n    return m.__dict__['exec']\n", "line 2: `'exec'`"),
    "reached_from_a_dict": ("def f(m):\n    return m.__dict__.copy()['exec']\n", "line 2: `'exec'`"),
    "namespace_get": ("def f(m):\n    return m.__dict__.get('compile')\n", "line 2: `'compile'`"),
    "locals_pop": ("def f():\n    return locals().pop('gc', None)\n", "line 2: `'gc'`"),
    # (the namespace itself, when it reaches, is found first)
    "builtins_dict_subscript": ("import builtins\ne = builtins.__dict__['exec']\n", "line 2: `builtins.__dict__`"),
    "vars_subscript": ("import builtins\ne = vars(builtins)['eval']\n", "line 2: `vars`"),
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
    "frozen_app": "import sys\nfrozen = getattr(sys, 'frozen', False)\n",
    "locals_and_names": "def f(a):\n    print('{a}'.format(**locals()))\n    return f.__name__, __doc__, __file__\n",
    "own_variable_named_vars": "vars = [1, 2]\nprint(vars[0])\ndef g(eval):\n    return eval\n",
    "re_compile": "import re\npattern = re.compile('a+')\n",
    "types_and_time": "import types, time, os\nns = types.SimpleNamespace(t=time.perf_counter(), p=os.getpid())\n",
    "mode_strings": '''
        """Training or evaluation: eval"""
        MODES = {"train": 1, "eval": 0, "gc": "garbage"}
        def forward(X, mode="train"):
            """eval"""
            if mode not in ("train", "eval"):
                raise ValueError(f"mode must be train or eval, got {mode!r}")
            assert mode == "eval" or mode == "train", "exec"
            return X * MODES[mode], "inspect" if mode == "eval" else "compile"
    ''',
    "attributes_of_own_objects": "class Net:\n    def step(self):\n        return self.gc, self.inspect, self.sys\n",
    "eval_as_dict_key": """
        history = {"train": [], "eval": []}
        def record(split, value):
            history[split].append(value)
        if __name__ == "__main__":
            history["eval"].append(0.0)
    """,
    "eval_in_argparse_choices": """
        import argparse
        if __name__ == "__main__":
            parser = argparse.ArgumentParser()
            parser.add_argument("--mode", choices=["check", "eval"], default="check")
            args = parser.parse_args()
    """,
    "eval_as_keyword_value": "def _run(mode):\n    return mode\nif __name__ == '__main__':\n    _run(mode='eval')\n",
    "ordinary_words_as_arguments": "f = lookup(table, 'eval')\ng = pick(['compile'])\nh = lookup(name='exec')\n",
    "ordinary_words_as_keys": """
        def f(table, params, cache):
            return table["exec"], params["gc"], params["W1"]["inspect"], cache.get("eval"), cache.pop("vars", None)
    """,
    "ordinary_word_monitoring": "config = {'logging': 'monitoring'}\nprint(config['logging'] == 'monitoring')\n",
    "own_methods_named_like_builtins": "def f(model):\n    model.eval()\n    return model.compile(), model.vars\n",
}


def write(tmp_path: Path, code: str, name: str = "backprop.py") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def folder(tmp_path: Path, layout: dict) -> list:
    """The files of `layout` (name -> code), written under tmp_path: every file, as locate() lists a folder's."""
    return [write(tmp_path, code, name) for name, code in layout.items()]


@pytest.mark.parametrize("name", REACHING)
def test_reaching_constructs_are_found_with_file_and_line(tmp_path, name):
    code, where = REACHING[name]
    assert find_introspection(write(tmp_path, code)) == f"backprop.py {where}"


@pytest.mark.parametrize("name", HONEST)
def test_honest_code_is_left_alone(tmp_path, name):
    assert find_introspection(write(tmp_path, HONEST[name])) is None


def test_helper_modules_are_read_and_named_by_their_path_in_the_folder(tmp_path):
    files = folder(tmp_path, {"backprop.py": "import numpy as np\nimport pkg.helpers\n", "pkg/__init__.py": "",
                              "pkg/helpers.py": "import gc\n", "notes.txt": ""})
    assert find_introspection(files[0], tmp_path, files) == "pkg/helpers.py line 1: `import gc`"


def test_files_the_submission_does_not_import_are_not_read(tmp_path):
    """The student's own tests and scripts never run in the worker."""
    files = folder(tmp_path, {"backprop.py": HONEST["numpy_code"],
                              "test_mine.py": "import importlib\nimport backprop\nimportlib.reload(backprop)\n",
                              "scripts/plot.py": "import inspect\n"})
    assert find_introspection(files[0], tmp_path, files) is None


def test_files_named_like_outside_modules_are_not_read_unless_imported(tmp_path):
    """The worker searches the folder after the standard library and the installed packages: a `json.py` or a scratch
    `test.py` there cannot stand in for the module of that name, and runs only if the submission imports it."""
    files = folder(tmp_path, {"backprop.py": HONEST["numpy_code"], "json.py": "import gc\n",
                              "test.py": "import importlib\nimport backprop\nimportlib.reload(backprop)\n"})
    assert find_introspection(files[0], tmp_path, files) is None


@pytest.mark.parametrize("layout, where", [
    ({"backprop.py": "from helpers import f\n", "helpers.py": "import numpy as np\nimport gc\n"},
     "helpers.py line 2: `import gc`"),
    ({"backprop.py": "import numpy as np\nfrom helpers import f\n", "helpers.py": "from tools.deep import g\n",
      "tools/__init__.py": "", "tools/deep.py": "def g():\n    import gc\n"},
     "tools/deep.py line 2: `import gc`"),
    ({"pkg/model.py": "from .utils import g\n", "pkg/__init__.py": "", "pkg/utils.py": "import gc\n"},
     "pkg/utils.py line 1: `import gc`"),
    ({"pkg/model.py": "from . import utils\n", "pkg/__init__.py": "", "pkg/utils.py": "import gc\n"},
     "pkg/utils.py line 1: `import gc`"),
    ({"pkg/model.py": "x = 1\n", "pkg/__init__.py": "import gc\n"}, "pkg/__init__.py line 1: `import gc`"),
    ({"backprop.py": "from tools import deep\n", "tools/__init__.py": "", "tools/deep.py": "import gc\n"},
     "tools/deep.py line 1: `import gc`"),
    ({"backprop.py": "from tools import *\n", "tools/__init__.py": "__all__ = ['deep']\n",
      "tools/deep.py": "import gc\n"}, "tools/deep.py line 1: `import gc`"),
], ids=["from_helper", "transitive", "relative_module", "relative_package", "parent_package", "submodule",
        "star_all"])
def test_files_the_submission_imports_are_read(tmp_path, layout, where):
    files = folder(tmp_path, layout)
    assert find_introspection(files[0], tmp_path, files) == where


def test_a_file_given_alone_is_read_alone(tmp_path):
    """A single-file submission is copied alone for the worker: the files beside it are not the submission's."""
    folder(tmp_path, {"backprop.py": "from helpers import f\n", "helpers.py": "import gc\n"})
    source = locate(tmp_path / "backprop.py", "backprop.py")
    assert find_introspection(source.module_path, source.folder, source.files) is None


def test_cs231n_classifier_reads_the_layers_it_imports(tmp_path):
    """As grader.student calls it, on the layout of rubrics/cs231n_fc_net.yaml: cs231n/classifiers/fc_net.py does
    `from cs231n.layer_utils import *`, which does `from cs231n.layers import *`."""
    shutil.copytree(FC_NET, tmp_path / "fc_net")
    source = locate(tmp_path / "fc_net", "cs231n/classifiers/fc_net.py")
    assert find_introspection(source.module_path, source.folder, source.files) is None
    layers = tmp_path / "fc_net" / "cs231n" / "layers.py"
    code = layers.read_text().rstrip("\n") + "\nimport gc\n"
    layers.write_text(code)
    where = f"cs231n/layers.py line {code.count(chr(10))}: `import gc`"
    assert find_introspection(source.module_path, source.folder, source.files) == where


def test_files_that_do_not_parse_are_left_to_the_import(tmp_path):
    files = folder(tmp_path, {"backprop.py": "import b\nprint 'python 2'\nimport gc\n", "b.py": "\xff\xfe\x00"})
    assert find_introspection(files[0], tmp_path, files) is None
