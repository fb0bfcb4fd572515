import FlatVecModel
import NIOSSL
import Synchronization

/// The PEM files of the server's TLS (`flatvec serve --tls-cert-file --tls-key-file [--tls-client-ca-file]`).
public struct TLSFiles: Sendable, Equatable {
    /// The certificate chain, leaf first.
    public var certificateFile: String
    /// The private key of the leaf certificate.
    public var keyFile: String
    /// With it, clients must present a certificate signed by one of these CAs (mutual TLS).
    public var clientCAFile: String?

    /// Creates the file set.
    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }

    /// Reads the files and makes a server context (TLS 1.2 at least).
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming the file that cannot be read or used.
    func makeContext() throws(FlatVecError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw FlatVecError(.invalidArgument, "cannot read the TLS certificate chain \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw FlatVecError(.invalidArgument, "\(certificateFile) holds no PEM certificate") }
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw FlatVecError(.invalidArgument, "cannot read the TLS private key \(keyFile): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAFile {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(clientCAFile)
            } catch {
                throw FlatVecError(.invalidArgument, "cannot read the client CA file \(clientCAFile): \(error)")
            }
            guard !roots.isEmpty else { throw FlatVecError(.invalidArgument, "\(clientCAFile) holds no PEM certificate") }
            configuration.trustRoots = .certificates(roots)
            // Clients have no host name to check; their certificate must chain to these roots.
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw FlatVecError(.invalidArgument, "the TLS certificate \(certificateFile) and key \(keyFile) cannot be used together: \(error)")
        }
    }
}

/// The TLS context new connections use; replaced whole by a reload, so connections already open keep
/// theirs.
final class TLSContextBox: Sendable {
    let files: TLSFiles
    private let context: Mutex<NIOSSLContext>

    init(files: TLSFiles) throws(FlatVecError) {
        self.files = files
        context = Mutex(try files.makeContext())
    }

    var current: NIOSSLContext { context.withLock { $0 } }

    func reload() throws(FlatVecError) {
        let fresh = try files.makeContext()
        context.withLock { $0 = fresh }
    }
}
