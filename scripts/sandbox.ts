console.log('The sandbox is not here yet: it lands with the Discord surface issue (#5).');
