"""Packaging for CDE; every setting is read from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
import setuptools, shlex
from packaging.version import Version

assert Version(setuptools.__version__) >= Version("36.2")

config = ConfigParser(delimiters=["="])
config.read("settings.ini", encoding="utf-8")
cfg = config["DEFAULT"]

for o in "version description keywords author author_email".split():
    assert o in cfg, f"missing expected setting: {o}"

licenses = {"apache2": ("Apache Software License 2.0", "OSI Approved :: Apache Software License")}
statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable", "6 - Mature", "7 - Inactive"]
py_versions = "3.10 3.11 3.12 3.13".split()

requirements = shlex.split(cfg.get("requirements", ""))
dev_requirements = shlex.split(cfg.get("dev_requirements", ""))
offline_requirements = shlex.split(cfg.get("offline_requirements", ""))
extras = {name: shlex.split(cfg.get(f"{name}_requirements", "")) for name in ("track", "hub", "kaggle", "lab", "projected")}
lic = licenses[cfg["license"].lower()]
min_python = cfg["min_python"]

setuptools.setup(
    name=cfg.get("dist_name", cfg["lib_name"]),
    license=lic[0],
    classifiers=["Development Status :: " + statuses[int(cfg["status"])],
                 "Intended Audience :: " + cfg["audience"].title(),
                 "Natural Language :: " + cfg["language"].title(),
                 "License :: " + lic[1]]
                + ["Programming Language :: Python :: " + o for o in py_versions[py_versions.index(min_python):]],
    url=cfg["git_url"],
    packages=setuptools.find_packages(include=["cde", "cde.*"]),
    include_package_data=True,
    install_requires=requirements,
    extras_require={"dev": dev_requirements, "offline": offline_requirements, **extras},
    python_requires=">=" + min_python,
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    zip_safe=False,
    entry_points={"console_scripts": cfg.get("console_scripts", "").split(),
                  "nbdev": [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d']},
    version=cfg["version"],
    description=cfg["description"],
    author=cfg["author"],
    author_email=cfg["author_email"],
    keywords=cfg["keywords"],
)
