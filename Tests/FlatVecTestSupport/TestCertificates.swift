import FlatVecModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Certificates made at test time with the `openssl` command (.ci/run installs it): a CA, a server
/// certificate it signed for `127.0.0.1` and `localhost`, a client certificate it signed, and a second,
/// unrelated CA with a client certificate of its own.
public struct TestCertificates: Sendable {
    /// The directory holding the PEM files.
    public let directory: String

    /// The CA that signed the server's and the client's certificates.
    public var caFile: String { directory + "/ca.pem" }
    /// The server's certificate and key.
    public var serverCertificateFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }
    /// A client certificate the CA signed.
    public var clientCertificateFile: String { directory + "/client.pem" }
    public var clientKeyFile: String { directory + "/client.key" }
    /// Another CA, which signed nothing the server presents.
    public var otherCAFile: String { directory + "/other-ca.pem" }
    /// A client certificate the other CA signed.
    public var otherClientCertificateFile: String { directory + "/other-client.pem" }
    public var otherClientKeyFile: String { directory + "/other-client.key" }

    /// Makes a fresh set in a temporary directory.
    /// - Throws: ``FlatVecError/Code/unavailable`` if `openssl` fails or is missing.
    public init() throws {
        directory = TestDirectory.path("flatvec-certs")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let d = directory
        let steps = [
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=flatvec-test-ca -keyout \(d)/ca.key -out \(d)/ca.pem",
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other-ca -keyout \(d)/other-ca.key -out \(d)/other-ca.pem",
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout \(d)/server.key -out \(d)/server.csr",
            "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > \(d)/server.ext",
            "openssl x509 -req -in \(d)/server.csr -CA \(d)/ca.pem -CAkey \(d)/ca.key -CAcreateserial -days 2 -extfile \(d)/server.ext -out \(d)/server.pem",
            "printf 'extendedKeyUsage=clientAuth\\n' > \(d)/client.ext",
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client -keyout \(d)/client.key -out \(d)/client.csr",
            "openssl x509 -req -in \(d)/client.csr -CA \(d)/ca.pem -CAkey \(d)/ca.key -CAcreateserial -days 2 -extfile \(d)/client.ext -out \(d)/client.pem",
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=intruder -keyout \(d)/other-client.key -out \(d)/other-client.csr",
            "openssl x509 -req -in \(d)/other-client.csr -CA \(d)/other-ca.pem -CAkey \(d)/other-ca.key -CAcreateserial -days 2 -extfile \(d)/client.ext -out \(d)/other-client.pem",
        ]
        for step in steps {
            let status = system(step + " 2>/dev/null")
            guard status == 0 else { throw FlatVecError(.unavailable, "openssl failed (\(status)): \(step)") }
        }
    }

    /// Deletes the files.
    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
