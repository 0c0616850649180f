"""Distribution of briefy.choreographer (and its briefy.common foundation)."""

from setuptools import find_namespace_packages, setup

setup(
    name="briefy.choreographer",
    version="1.0.0.dev0",
    description="Event choreographer: reads events from SQS, runs ZCA actions, writes payloads to SQS.",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="MIT",
    python_requires=">=3.11",
    package_dir={"": "src"},
    packages=find_namespace_packages(where="src", include=["briefy.*"]),
    include_package_data=True,
    package_data={"": ["*.zcml", "*.json", "py.typed"]},
    zip_safe=False,
    install_requires=[
        "boto3>=1.34",
        "fastjsonschema>=2.19",
        "orjson>=3.9",
        "prometheus-client>=0.20",
        "PyYAML>=6.0",
        "waitress>=3.0",
        "structlog>=24.1",
        "tqdm>=4.66",
        "zope.component>=6.0",
        "zope.configuration>=5.0",
        "zope.event>=5.0",
        "zope.interface>=6.0",
    ],
    extras_require={
        # The embedded SQS endpoint for development (moto's server, in-process): moto with
        # what its SQS needs and the Flask its server runs on. moto's own "server" extra
        # would add every AWS service's dependencies (cfn-lint, sympy, ...: 170 MB).
        "embedded": ["moto[sqs]>=5.0", "flask>=2.2.2", "flask-cors"],
        # podman-compose: the compose test's command where the engine is podman.
        "test": [
            "moto[server]>=5.0",
            "pytest>=8.0",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "podman-compose>=1.2",
        ],
    },
    entry_points={
        "console_scripts": ["choreographer = briefy.choreographer.cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Typing :: Typed",
    ],
)
