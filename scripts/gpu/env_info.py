#!/usr/bin/env python3
"""What the GPU checks ran on, as one JSON object: the card, driver, CUDA, cuDNN, torch, Transformers,
the toolchain (node, g++, cmake, nvcc). Every probe is optional: a missing tool reads "n/a".

usage: env_info.py [OUT.json]   (prints the JSON; also writes it to OUT.json when given)
"""
import json
import platform
import shutil
import subprocess
import sys


def cmd(*args, timeout=30):
    if not shutil.which(args[0]):
        return "n/a"
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        text = (r.stdout or r.stderr).strip()
        return text if r.returncode == 0 else f"n/a (exit {r.returncode}: {text.splitlines()[-1] if text else ''})"
    except Exception as e:  # noqa: BLE001
        return f"n/a ({e})"


def main():
    info = {"python": sys.version.split()[0], "python_exe": sys.executable, "platform": platform.platform()}
    smi = cmd("nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit", "--format=csv,noheader")
    info["nvidia_smi"] = smi
    if not smi.startswith("n/a"):
        first = [s.strip() for s in smi.splitlines()[0].split(",")]
        info.update({"card": first[0], "driver": first[1], "card_memory": first[2], "max_sm_clock": first[3] if len(first) > 3 else None,
                     "power_limit": first[4] if len(first) > 4 else None})
        info["nvidia_smi_cuda"] = next((l.split("CUDA Version:")[1].split("|")[0].strip() for l in cmd("nvidia-smi").splitlines()
                                        if "CUDA Version:" in l), "n/a")
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["torch_cxx11_abi"] = bool(torch._C._GLIBCXX_USE_CXX11_ABI)
        info["cuda_available"] = torch.cuda.is_available()
        try:
            info["cudnn"] = torch.backends.cudnn.version()
        except Exception:  # noqa: BLE001
            info["cudnn"] = None
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info["torch_device"] = {"name": p.name, "capability": f"{p.major}.{p.minor}", "memory_gib": round(p.total_memory / 2 ** 30, 1),
                                    "sm_count": p.multi_processor_count}
            info.setdefault("card", p.name)
        import torch.utils
        info["torch_cmake_prefix"] = torch.utils.cmake_prefix_path
    except Exception as e:  # noqa: BLE001
        info["torch"] = f"n/a ({e})"
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except Exception as e:  # noqa: BLE001
        info["transformers"] = f"n/a ({type(e).__name__})"
    info["node"] = cmd("node", "--version")
    info["gxx"] = cmd("g++", "--version").splitlines()[0]
    info["cmake"] = cmd("cmake", "--version").splitlines()[0]
    info["nvcc"] = cmd("nvcc", "--version").splitlines()[-1]
    text = json.dumps(info, indent=2)
    print(text)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
