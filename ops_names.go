package ctrgate

// Operation names carried by EngineError.Op. Each is the name of the
// ContainerRuntime method that failed, spelled exactly as the method, and
// every backend uses the same one for the same method, so a caller can
// switch on EngineError.Op whatever the backend.
const (
	// OpInfo is Info. Backends also use it for failures of their
	// constructors (New), which check the engine the way Info does.
	OpInfo = "Info"
	// OpImageExists is ImageExists.
	OpImageExists = "ImageExists"
	// OpPullImage is PullImage.
	OpPullImage = "PullImage"
	// OpImportImage is ImportImage.
	OpImportImage = "ImportImage"
	// OpListImages is ListImages.
	OpListImages = "ListImages"
	// OpRemoveImage is RemoveImage.
	OpRemoveImage = "RemoveImage"
	// OpCreate is Create.
	OpCreate = "Create"
	// OpStart is Start.
	OpStart = "Start"
	// OpStop is Stop.
	OpStop = "Stop"
	// OpKill is Kill.
	OpKill = "Kill"
	// OpRemove is Remove.
	OpRemove = "Remove"
	// OpInspect is Inspect.
	OpInspect = "Inspect"
	// OpList is List.
	OpList = "List"
	// OpWait is Wait.
	OpWait = "Wait"
	// OpLogs is Logs (including failures reported later by the stream's Next).
	OpLogs = "Logs"
	// OpExec is Exec.
	OpExec = "Exec"
	// OpCopyTo is CopyTo.
	OpCopyTo = "CopyTo"
	// OpCopyFrom is CopyFrom (including failures reported later by the
	// returned reader).
	OpCopyFrom = "CopyFrom"
	// OpEvents is Events (including failures reported later by the stream's
	// Next).
	OpEvents = "Events"
	// OpClose is Close.
	OpClose = "Close"
)

// Ops lists every operation name, in the order of the ContainerRuntime
// methods.
func Ops() []string {
	return []string{OpInfo, OpImageExists, OpPullImage, OpImportImage, OpListImages, OpRemoveImage, OpCreate, OpStart,
		OpStop, OpKill, OpRemove, OpInspect, OpList, OpWait, OpLogs, OpExec, OpCopyTo, OpCopyFrom, OpEvents, OpClose}
}
