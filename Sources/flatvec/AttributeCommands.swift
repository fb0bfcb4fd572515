import ArgumentParser
import FlatVecClient
import FlatVecCore

/// `flatvec attr add|drop`: change the attributes a collection declares.
struct AttributeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attr",
        abstract: "Add or drop an attribute of a collection.",
        subcommands: [AddAttributeCommand.self, DropAttributeCommand.self]
    )
}

/// `flatvec attr add --collection C --attr NAME:TYPE`.
struct AddAttributeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Declare a new attribute (every stored vector has no value for it until set)."
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "NAME:TYPE, TYPE one of bool, int64, float64, keyword.") var attr: String

    func run() async throws {
        let definition: AttributeDefinition
        do {
            definition = try AttributeDefinition(parsing: attr)
        } catch {
            fail("--attr: \(error.message)")
        }
        let c = await client.connect()
        await orFail { try await c.addAttribute(collection: collection, definition) }
        print("added attribute \(definition) to \(collection)")
        await c.close()
    }
}

/// `flatvec attr drop --collection C --name NAME`.
struct DropAttributeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop", abstract: "Drop an attribute and every value of it.")

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "The attribute.") var name: String

    func run() async throws {
        let c = await client.connect()
        await orFail { try await c.dropAttribute(collection: collection, named: name) }
        print("dropped attribute \(name) of \(collection)")
        await c.close()
    }
}

/// `flatvec set`: change labels, payloads and attribute values of stored vectors, without their vectors.
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change the label, payload or attribute values of stored vectors (all or nothing).",
        discussion: """
            Values are written as in filters: --set 'category="shoes"' --set visible=true --set price=49.5 (a bare \
            name, --set visible, sets a bool to true). \
            The same change applies to every id given; anything not named stays as it is.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @OptionGroup var idOptions: IDOptions
    @Option(name: .long, parsing: .unconditional, help: "New label.") var label: Int64?
    @Option(name: .long, help: "New payload (JSON).") var payload: String?
    @Flag(name: .long, help: "Remove the payload.") var clearPayload = false
    @Option(name: .long, help: "NAME=VALUE; repeatable.") var set: [String] = []
    @Option(name: .long, help: "An attribute to clear (make null); repeatable.") var clear: [String] = []

    func run() async throws {
        let ids = idOptions.values()
        if payload != nil && clearPayload { fail("give --payload or --clear-payload, not both") }
        var values: [String: AttributeValue] = [:]
        for assignment in set {
            guard case .comparison(.attribute(let name), .equal, let value)? = try? Filter(parsing: assignment) else {
                fail("--set \(assignment): expected NAME=VALUE, e.g. category=\"shoes\", visible=true, price=49.5")
            }
            values[name] = value
        }
        var change: RowUpdate.PayloadChange = .keep
        if let payload {
            guard JSONValidator.isValid(Array(payload.utf8)) else { fail("--payload is not a JSON value") }
            change = .set(Array(payload.utf8))
        } else if clearPayload {
            change = .clear
        }
        let updates = ids.map { RowUpdate(id: $0, label: label, payload: change, set: values, clear: Set(clear)) }
        let c = await client.connect()
        let n = await orFail { try await c.update(collection: collection, updates) }
        print("updated \(n) vectors of \(collection)")
        await c.close()
    }
}
