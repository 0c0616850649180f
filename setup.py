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
        # The embedded endpoint for development (moto's server, in-process): moto with what
        # its SQS and S3 need (S3 serves large payloads) and the Flask its server runs on.
        # moto's own "server" extra would add every AWS service's dependencies (cfn-lint,
        # sympy, ...: 170 MB).
        "embedded": ["moto[sqs,s3]>=5.0", "flask>=2.2.2", "flask-cors"],
        # Spans through OpenTelemetry (the OTEL_* variables configure them); trace context
        # propagates without it.
        "otel": ["opentelemetry-api>=1.20", "opentelemetry-sdk>=1.20"],
        # podman-compose: the compose test's command where the engine is podman. (AWS's
        # amazon-sqs-extended-client, which proves the large-payload wire format, is installed
        # by its test into a folder of its own: importing it replaces boto3's Session.)
        "test": [
            "moto[server]>=5.0",
            "opentelemetry-api>=1.20",
            "opentelemetry-sdk>=1.20",
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
