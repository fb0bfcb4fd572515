import FlatVecModel
import NIOSSL

/// TLS for a client connection: which CAs to trust and, for mutual TLS, the client's certificate.
public struct ClientTLS: Sendable, Equatable {
    /// PEM file of the CAs to trust; nil trusts the system's roots.
    public var caFile: String?
    /// PEM file of the client certificate chain (mutual TLS), with ``keyFile``.
    public var certificateFile: String?
    /// PEM file of the client certificate's private key.
    public var keyFile: String?
    /// The name to verify the server's certificate against; nil uses the host connected to (an IP
    /// address is checked against the certificate's IP entries).
    public var serverName: String?

    /// Creates a TLS setting.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// A client context (TLS 1.2 at least, the server's certificate and name verified).
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming a file that cannot be read or used.
    func makeContext() throws(FlatVecError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw FlatVecError(.invalidArgument, "cannot read the CA file \(caFile): \(error)")
            }
        }
        switch (certificateFile, keyFile) {
        case (nil, nil):
            break
        case (let certificateFile?, let keyFile?):
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            } catch {
                throw FlatVecError(.invalidArgument, "cannot read the client certificate \(certificateFile): \(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw FlatVecError(.invalidArgument, "cannot read the client key \(keyFile): \(error)")
            }
        default:
            throw FlatVecError(.invalidArgument, "a client certificate needs both its certificate file and its key file")
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw FlatVecError(.invalidArgument, "the client TLS settings cannot be used: \(error)")
        }
    }
}
