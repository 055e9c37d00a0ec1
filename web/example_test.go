package web_test

import (
	"fmt"
	"io/fs"

	"github.com/fog-compute/fog/web"
)

func ExampleAssets() {
	_, err := fs.Stat(web.Assets(), "index.html")
	fmt.Println(err == nil)
	// Output: true
}
