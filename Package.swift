// swift-tools-version: 6.0
import PackageDescription

let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "fkdc",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fkdc", targets: ["fkdc"]),
        .library(name: "Driver", targets: ["Driver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CProtobufC", path: "Sources/CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]),
        // protobuf-c code generated from onnx.proto (scripts/generate-onnx-protobuf.sh)
        .target(
            name: "CONNX", dependencies: ["CProtobufC"], exclude: ["onnx.proto", "NOTICE"],
            cSettings: [.unsafeFlags(["-Wno-everything"])]),
        // PNG and JPEG decoding through Debian's libpng and libjpeg
        .target(
            name: "CImageDecode", linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        // the evaluators' loops and the calibrator are optimised in debug builds too, so tests
        // can run the sample student over its whole calibration and validation sets
        // the C kernels generated C embeds (scripts/embed-c-kernels.py), built warning-free on their
        // own; Swift reads their shared constants (fk_config.h) and tests call each kernel
        .target(
            name: "CKernels",
            // no floating-point contraction, as generated C's pragma: the float kernels give the
            // evaluator's bits; optimised in debug builds too, since the exact int8 evaluator
            // runs its layers through them (fk_host.h)
            cSettings: [
                .unsafeFlags(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off", "-O2"])
            ]),
        .target(name: "GraphIR", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: optimisedInDebug),
        .target(name: "Frontends", dependencies: ["GraphIR", "CZlib", "CProtobufC", "CONNX"]),
        .target(name: "Passes", dependencies: ["GraphIR", "COpenBLAS"], swiftSettings: optimisedInDebug),
        .target(name: "Codegen", dependencies: ["GraphIR", "CKernels", "CZlib"], swiftSettings: optimisedInDebug),
        .target(
            name: "Driver", dependencies: ["GraphIR", "Frontends", "Passes", "Codegen", "CImageDecode", "CKernels"]),
        .executableTarget(
            name: "fkdc",
            dependencies: [
                "Driver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // libFuzzer's driver entry point (scripts/fuzz.sh links libFuzzer; plain builds replay files)
        .systemLibrary(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        .executableTarget(name: "fkdc-fuzz", dependencies: ["Driver", "GraphIR", "CFuzzDriver"]),
        .testTarget(name: "GraphIRTests", dependencies: ["GraphIR", "CKernels"]),
        .testTarget(name: "FrontendsTests", dependencies: ["Frontends", "GraphIR"]),
        .testTarget(name: "PassesTests", dependencies: ["Passes", "GraphIR"], exclude: ["Golden"]),
        .testTarget(
            name: "DriverTests", dependencies: ["Driver", "GraphIR", "Frontends", "Passes", "Codegen", "CKernels"],
            resources: []),
    ]
)
